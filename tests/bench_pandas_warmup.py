# bench_pandas_warmup.py: the warmup script of the benchmark's pandas profile: pandas imports more modules and fills caches on first use, so use it once in the zygote.

import pandas as pd

pd.Series([1, 2, 3]).sum()
pd.DataFrame({"x": range(10), "y": [i % 3 for i in range(10)]}).groupby("y")["x"].sum()
