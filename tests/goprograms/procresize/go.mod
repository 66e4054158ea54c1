module procresize

go 1.23
