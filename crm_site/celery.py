"""The Celery app. Configuration lives in settings under the ``CELERY_`` prefix."""
import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
# One BLAS/OpenMP thread per process: workers already run one task per core, and scikit-learn's
# K-means and gradient boosting slowed 20-50x when their threads fought each other on 2 cores.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# filesystem:// (the embedded default broker) is kombu's transport with atomic writes (broker.py).
TRANSPORT_ALIASES["filesystem"] = "crm_site.broker:Transport"

app = Celery("crm_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
