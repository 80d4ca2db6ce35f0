# Lambda Scale controller image: a static Go binary on distroless, run as a non-root user.
#
#   make docker-build            # docker build -t lambdascale:dev .
#   docker run --read-only -v status:/var/lib/lambdascale -v $PWD/policies:/etc/lambdascale/policies:ro lambdascale:dev
#
# The root filesystem may be read-only: the controller writes only its status files, in
# /var/lib/lambdascale (mount a volume there), and reads policies from /etc/lambdascale/policies.

# Build stage. Its build command is the one `make build-static` runs (config/manifests_test.go
# checks that they agree), so CI exercises it without a Docker engine.
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/lambdascale-linux ./cmd/lambdascale
# The status directory, created here because the final image has no shell; owned by the
# non-root user so that a fresh volume mounted on it (Docker copies ownership into an empty
# named volume) is writable without running as root.
RUN mkdir -p /out/var/lib/lambdascale /out/etc/lambdascale/policies

# Final stage: no shell, no package manager; CA certificates and /etc/passwd's nonroot user
# (65532) come with the base image.
FROM gcr.io/distroless/static:nonroot
COPY --from=build /src/bin/lambdascale-linux /lambdascale
COPY --from=build --chown=65532:65532 /out/var/lib/lambdascale /var/lib/lambdascale
COPY --from=build /out/etc/lambdascale/policies /etc/lambdascale/policies
USER 65532:65532
# Status files survive the container only on a volume.
VOLUME ["/var/lib/lambdascale"]
# The ports config/manager gives to --metrics-bind-address (Prometheus metrics) and
# --health-probe-bind-address (/healthz and /readyz).
EXPOSE 8080 8081
ENTRYPOINT ["/lambdascale"]
CMD ["run","--policies","/etc/lambdascale/policies","--status-dir","/var/lib/lambdascale"]
