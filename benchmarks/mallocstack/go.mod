module mallocstack

go 1.19
