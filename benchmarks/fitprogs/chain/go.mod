module chain

go 1.23
