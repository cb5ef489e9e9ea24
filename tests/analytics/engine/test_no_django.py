"""The engine is pure numbers code: it imports and runs with Django neither imported nor configured."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import os, sys
os.environ.pop("DJANGO_SETTINGS_MODULE", None)
import pandas as pd
from analytics.engine import pipeline
from customers.demo.generator import generate_demo
data = generate_demo(300, seed=3, as_of=pd.Timestamp("2026-06-30"))
out = pipeline.run_engine(customers=data.customers, orders=data.orders, items=data.items,
                          products=data.products, feedback_frame=data.feedback,
                          interactions=data.interactions, as_of=pd.Timestamp("2026-06-30"))
assert "django" not in sys.modules, sorted(m for m in sys.modules if m.startswith("django"))
print(int(out.scores["rfm_segment"].notna().sum()), len(out.skipped))
"""


def test_engine_runs_without_django():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    scored, skipped = map(int, result.stdout.split()[-2:])
    assert scored > 250
    assert skipped == 0
