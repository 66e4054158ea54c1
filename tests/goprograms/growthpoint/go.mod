module growthpoint

go 1.23
