# Build the manager binary
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY config/crd/ config/crd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o manager ./cmd/manager

# A static binary on distroless, as a non-root user. `make image` builds it
# with the same flags into an image of the same user, working directory and
# entrypoint without Docker (hack/image: the binary alone, with the manager's
# own trust roots where distroless brings a CA bundle).
FROM gcr.io/distroless/static:nonroot
LABEL org.opencontainers.image.source=https://github.com/tapstack/payment-migration-operator
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532
ENTRYPOINT ["/manager"]
