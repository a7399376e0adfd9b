# routelet's image: the agent `routelet` and the plugin `routelet-cni`, built from Debian
# packages exactly as a developer or CI builds them (scripts/setup, then the cmake build of
# scripts/test), on Debian 12. tests/manifests/test_image.py keeps this file honest: the
# build steps must be the ones CI runs, and the final stage must install a package for
# every shared library the two binaries load.

FROM debian:12 AS build
WORKDIR /src
COPY . .
# The same setup script as the README: Debian packages only.
RUN scripts/setup
# The main build of scripts/test (Release), only the two shipped targets.
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j "$(nproc)" --target routelet routelet-cni
RUN strip build/controller/routelet build/cni/routelet-cni

FROM debian:12-slim
# Runtime libraries of the agent (ldd): cpprestsdk and what it loads (OpenSSL, brotli,
# zlib), libmicrohttpd for the probes and metrics (and what it loads: GnuTLS with nettle,
# p11-kit, libtasn1, libidn2, libunistring, libffi), yaml-cpp, libnftables for egress
# masquerade (and what it loads: libnftnl, libmnl, jansson, xtables, gmp) and the C++
# runtime. libc6 is in every Debian image. The plugin is a static executable: install-cni
# copies it to the host, where it runs without the image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcpprest2.10 libssl3 libbrotli1 zlib1g libyaml-cpp0.7 \
      libmicrohttpd12 libgnutls30 libnettle8 libhogweed6 libp11-kit0 libtasn1-6 libidn2-0 \
      libunistring2 libffi8 \
      libnftables1 libnftnl11 libmnl0 libjansson4 libxtables12 libgmp10 libstdc++6 libgcc-s1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/controller/routelet /src/build/cni/routelet-cni /usr/local/bin/
# So `ip route show proto routelet` names routelet's routes where iproute2 is present.
COPY --from=build /src/dist/rt_protos.d/routelet.conf /etc/iproute2/rt_protos.d/routelet.conf
ENTRYPOINT ["/usr/local/bin/routelet"]
CMD ["run"]
