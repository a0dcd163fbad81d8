# syntax=docker/dockerfile:1
# mcpguard: a static binary on a distroless base, running as a non-root user.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The same command CI builds with (Makefile target "build").
RUN make build BIN=/out/mcpguard VERSION=${VERSION} && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mcpguard /usr/local/bin/mcpguard
# The default STORE (bolt:///var/lib/mcpguard/mcpguard.db) must be writable by the
# non-root user; a named volume mounted here inherits this ownership.
COPY --from=build --chown=65532:65532 /out/data /var/lib/mcpguard
USER nonroot:nonroot
# A container is a deployment: listen on every interface (the embedded default listens
# on loopback only). TRUSTED_PROXIES still trusts only loopback until it names the proxy.
ENV LISTEN_ADDR=:11000
EXPOSE 11000
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/mcpguard", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/mcpguard"]
