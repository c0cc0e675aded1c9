# syntax=docker/dockerfile:1
# The service's image: built with `make build` (the same command as on a workstation), run as
# a static binary on distroless, as a non-root user. No shell and no curl inside: the health
# check is the binary's own `userservice healthcheck`.
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t userservice .
#   docker run -p 8080:8080 userservice          # the embedded SQLite default, in /data

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
# Pure Go (the SQLite driver too): a static binary.
ENV CGO_ENABLED=0
RUN make build VERSION=${VERSION}
# The embedded database's directory, owned by the image's non-root user.
RUN mkdir -p /data && chown 65532:65532 /data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/userservice /userservice
COPY --from=build --chown=65532:65532 /data /data
USER 65532:65532
ENV HTTP_ADDR=:8080 \
    DATABASE_URL=sqlite:///data/userservice.db
EXPOSE 8080
VOLUME /data
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/userservice", "healthcheck"]
ENTRYPOINT ["/userservice"]
CMD ["serve"]
