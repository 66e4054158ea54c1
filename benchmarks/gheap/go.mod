module gheap

go 1.19
