module httpserve

go 1.23
