"""The README's usage example runs as printed and does what its comments say."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_usage_example(tmp_path, monkeypatch):
    usage = README.read_text().split("## Usage", 1)[1]
    code = re.search(r"```python\n(.*?)```", usage, re.S).group(1)
    monkeypatch.chdir(tmp_path)  # it writes runs/ and max_chain.pt
    namespace: dict = {}
    exec(compile(code, "README.md usage", "exec"), namespace)
    assert namespace["model"].coverage == 1.0  # "1.0" as its comment says
    assert namespace["baseline"].policy.prior_scale == 3.0
    assert (tmp_path / "max_chain.pt").exists() and list((tmp_path / "runs").iterdir())
