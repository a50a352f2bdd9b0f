# syntax=docker/dockerfile:1
# Build: a static binary (no cgo: the SQLite driver is pure Go).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/notifier ./cmd/notifier \
    && mkdir -p /out/data

# Run: distroless static, non-root, CA certificates and zone data included.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/notifier /notifier
# The data directory (embedded store and development secrets when no
# DATABASE_URL is set) must be writable by the non-root user.
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/notifier
USER nonroot:nonroot
ENV NOTIFIER_HTTP_ADDR=0.0.0.0:8080 NOTIFIER_DATA_DIR=/var/lib/notifier
EXPOSE 8080
ENTRYPOINT ["/notifier"]
CMD ["serve"]
