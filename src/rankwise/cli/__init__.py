"""The `rankwise` command: `main` holds rerank, models, backends, eval, index, search, bench and serve;
`train` holds `train ...` and `label`; `common` what every command shares (errors, flags, options,
progress)."""

from rankwise.cli.main import app

__all__ = ["app"]
