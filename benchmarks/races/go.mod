module races

go 1.23
