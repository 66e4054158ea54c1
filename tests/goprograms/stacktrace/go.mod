module stacktrace

go 1.23
