# The `wharf` image: one static-enough binary on a slim base.
#   docker build -t wharf .
FROM rust:1.95-bookworm AS build
WORKDIR /src
# The portal's browser bundle is built by cargo-leptos with the pinned wasm-bindgen CLI.
RUN rustup target add wasm32-unknown-unknown \
 && cargo install --locked cargo-leptos --version 0.3.10 \
 && CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo install wasm-bindgen-cli --version 0.2.130
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo leptos build --release \
 && cp target/release/wharf /usr/local/bin/wharf \
 && mkdir -p /usr/local/share/wharf && cp -r target/site /usr/local/share/wharf/site

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/wharf /usr/local/bin/wharf
COPY --from=build /usr/local/share/wharf/site /usr/local/share/wharf/site
ENV WHARF_LISTEN=0.0.0.0:5000 \
    WHARF_DATA_DIR=/var/lib/wharf \
    WHARF_SITE_DIR=/usr/local/share/wharf/site
RUN mkdir -p /var/lib/wharf && chown 65532:65532 /var/lib/wharf
USER 65532:65532
VOLUME /var/lib/wharf
EXPOSE 5000
ENTRYPOINT ["wharf"]
CMD ["serve"]
