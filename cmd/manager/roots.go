package main

// The manager calls AWS over HTTPS, and the image `make image` builds holds
// nothing but the binary: no CA bundle under /etc/ssl. These trust roots
// (Mozilla's, as Go's x509roots module ships them) are used only when the
// system has none, so a base image with its own bundle (the Dockerfile's
// distroless) or a mounted one (SSL_CERT_FILE, SSL_CERT_DIR) still wins.
// A mounted bundle replaces them all, so one for --db-sslmode verify-ca or
// verify-full must hold the RDS certificate authorities and public roots
// for AWS's endpoints both.
import _ "golang.org/x/crypto/x509roots/fallback"
