module gcthreads

go 1.19
