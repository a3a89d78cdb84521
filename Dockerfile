# chute:local — the Chute broker on an empty base: one static binary, the CA
# bundle for TLS to real stores, and a non-root user. No base image is pulled.
#
# Build it with `make image`, which first builds bin/chute on the host
# (CGO_ENABLED=0, so it needs no libc) and stages the CA bundle and an empty
# data folder under bin/image/ (scripts/build-image.sh), then runs the legacy
# builder:
#
#   DOCKER_BUILDKIT=0 docker build -t chute:local .
#
# Run against real stores, configured through CHUTE_* variables (or a YAML
# file mounted and named by CHUTE_CONFIG):
#
#   docker run -p 127.0.0.1:8080:8080 -e CHUTE_SESSIONS_REDIS_URL=... \
#     -e CHUTE_AUTH_MODE=jwt -e CHUTE_AUTH_JWT_SECRET=... \
#     -e CHUTE_BACKENDS_MAIN_ENDPOINT=... chute:local
#
# Everything embedded, for a look at the API (auth off, objects under /data;
# the embedded store listens inside the container only, so its presigned
# URLs are not usable from the host):
#
#   docker run -p 127.0.0.1:8080:8080 chute:local dev --listen 0.0.0.0:8080 --unsafe-no-auth
FROM scratch
LABEL dev.chute.image=chute \
      org.opencontainers.image.title="chute" \
      org.opencontainers.image.description="Chute upload broker" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY image/etc/passwd image/etc/group /etc/
COPY bin/image/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65532:65532 bin/image/data/ /data/
COPY bin/image/tmp/ /tmp/
COPY bin/chute /chute

# Listen on every interface of the container (the default, 127.0.0.1, can't
# be reached through a published port). It overrides server.listen from a
# mounted file too; set it again with -e to change it.
ENV CHUTE_SERVER_LISTEN=0.0.0.0:8080 \
    CHUTE_DATA_DIR=/data

USER 65532:65532
WORKDIR /data
EXPOSE 8080

ENTRYPOINT ["/chute"]
# serve needs a configuration (CHUTE_* variables or CHUTE_CONFIG); without
# one it exits saying what is missing. `dev` runs everything embedded.
CMD ["serve"]
