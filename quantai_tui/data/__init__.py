"""Market data at rest: the Parquet recording format, the recorder, readers, Binance CSV
imports, ccxt downloads and the local catalog. Imports pyarrow: load these modules only
where they are used (the CLI imports them inside commands)."""
