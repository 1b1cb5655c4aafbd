# Builds both failforward binaries; docker-compose.yml runs each as its
# own service.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/api ./cmd/api \
 && CGO_ENABLED=0 go build -trimpath -o /out/projector ./cmd/projector \
 && mkdir -p /out/auth

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/api /out/projector /usr/local/bin/
# The directory of AUTH_FILE, owned by the user the api runs as: a named
# volume mounted there takes its owner from the image, so the api can
# write its first token (AUTH_BOOTSTRAP).
COPY --from=build --chown=65532:65532 /out/auth /var/lib/failforward/auth
USER nonroot
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/api"]
