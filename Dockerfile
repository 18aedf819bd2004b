# syntax=docker/dockerfile:1
# Lumio: `docker build -t lumio .` — a release build of the `lumio` binary on a small,
# non-root runtime image (distroless: glibc, CA certificates, no shell).
#
#   docker run -p 7311:7311 -v lumio-data:/var/lib/lumio \
#     -v "$PWD/lumio-master-key:/run/secrets/lumio-master-key:ro" lumio
#
# The master key comes from the file at LUMIO_MASTER_KEY_FILE (mount it read-only, owned by
# uid 65532, mode 0600) or from LUMIO_MASTER_KEY (base64). See README "Docker and compose".
# The first admin token: `docker exec <container> lumio server admin-token`.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# No debug info in the image's binary (the workspace's release profile keeps some for
# profiling); the caches keep dependencies compiled between builds.
ENV CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=true
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p lumio \
    && install -D -m 0755 target/release/lumio /out/usr/local/bin/lumio \
    && install -d -m 0700 /out/var/lib/lumio

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/usr/local/bin/lumio /usr/local/bin/lumio
COPY --from=build --chown=65532:65532 /out/var/lib/lumio /var/lib/lumio
USER 65532:65532
ENV LUMIO_LISTEN=0.0.0.0:7311 \
    LUMIO_DATA_DIR=/var/lib/lumio \
    LUMIO_LOG_FORMAT=json
VOLUME ["/var/lib/lumio"]
EXPOSE 7311
# No shell or curl in the image: the binary asks its own server for /readyz (exit 0 or 1).
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/lumio", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/lumio"]
CMD ["server"]
