module sweeppath

go 1.19
