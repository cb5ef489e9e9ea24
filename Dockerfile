FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DEBUG=false SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input
EXPOSE 8000
CMD ["gunicorn", "crm_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
