# One image for the three services and the one-shot gateway-config job (see compose.yaml).
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -e . \
 && python -c "from gateway import codegen; codegen.generate_descriptor(codegen.DESCRIPTOR_OUT)"
ENV PYTHONUNBUFFERED=1 STUDYSYNC_HOST=0.0.0.0 STUDYSYNC_STATE_DIR=/state
CMD ["python", "-m", "services.progress"]
