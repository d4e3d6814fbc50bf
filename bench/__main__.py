"""`python -m bench`: run the benchmarks and print the table (see bench/run.py)."""

from bench.run import main

raise SystemExit(main())
