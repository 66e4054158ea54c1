module burstjoin

go 1.23
