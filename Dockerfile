# One image for the three services and the one-shot gateway-config job (see compose.yaml).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STUDYSYNC_HOST=0.0.0.0 STUDYSYNC_STATE_DIR=/state
WORKDIR /app
COPY . .
# Editable, so the package data (migrations, the Envoy template, the Lua filter) is read from /app;
# the descriptor set Envoy transcodes with is built here from protos/ (gateway/build is not copied in).
RUN pip install --no-cache-dir -e . \
 && python -c "from gateway import codegen; codegen.generate_descriptor(codegen.DESCRIPTOR_OUT)"
EXPOSE 50051 50052 50053 9101 9102 9103
CMD ["python", "-m", "services.progress"]
