module subtests

go 1.23
