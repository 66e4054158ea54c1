module tracebench

go 1.23
