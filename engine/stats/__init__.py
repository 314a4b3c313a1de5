"""Paired significance for xlt's result tables (issue 13): pure numpy.

reducers   metric name -> corpus value from summed per-example columns
resample   bootstrap resamples as multinomial counts @ columns
bootstrap  paired (two-level with seeds) bootstrap per cell, aggregates, results
intervals  percentile interval, shifted-null p-value
multiple   Holm / Benjamini-Hochberg
mcnemar    exact McNemar test for paired binary outcomes
reference  majority-class and chance levels, collapsed models
tables     per-example tables -> columns aligned by example id
"""
