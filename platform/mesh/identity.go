package mesh

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"
)

// TrustDomain is the SPIFFE trust domain of every identity in the mesh.
const TrustDomain = "kcna.local"

// Certificate lifetimes. Workload certificates are short-lived so that a
// stolen key is soon worthless, and the control plane re-issues them at half
// their life; Istio's default is 24h, shortened here so that rotation is
// something a lab session can actually watch. The root lives only in memory
// and dies with the control plane long before it expires.
const (
	CertTTL = time.Hour
	rootTTL = 30 * 24 * time.Hour
)

// SPIFFEID is the identity a sidecar of service proves with its certificate,
// in the form Istio uses: spiffe://TRUST-DOMAIN/ns/NAMESPACE/sa/SERVICE-ACCOUNT.
func SPIFFEID(service string) string {
	return "spiffe://" + TrustDomain + "/ns/default/sa/" + service
}

// Identity is what the control plane gives a sidecar: its certificate and
// private key, and the root that every sidecar trusts. It is PEM text so
// that it can travel across the control socket as JSON.
type Identity struct {
	SPIFFEID string    `json:"spiffe_id"`
	CertPEM  string    `json:"cert_pem"`
	KeyPEM   string    `json:"key_pem"`
	RootPEM  string    `json:"root_pem"`
	NotAfter time.Time `json:"not_after"`
}

// authority is the mesh's in-memory certificate authority.
type authority struct {
	key     *ecdsa.PrivateKey
	cert    *x509.Certificate
	certPEM string
}

func newAuthority(now time.Time) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"kcna-lab mesh"}, CommonName: "kcna-lab mesh root CA"},
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: TrustDomain}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(rootTTL),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The root signs workload certificates only, never another CA.
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &authority{key: key, cert: cert, certPEM: pemString("CERTIFICATE", der)}, nil
}

// issue makes a key and a certificate for service. The certificate's only
// name is a URI SAN holding the SPIFFE ID: peers check that, not a DNS name,
// because a sidecar's address says nothing about which service it serves.
func (a *authority) issue(service string, now time.Time) (Identity, error) {
	if err := checkService(service); err != nil {
		return Identity{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Identity{}, fmt.Errorf("generate key for %s: %w", service, err)
	}
	serial, err := newSerial()
	if err != nil {
		return Identity{}, err
	}
	id := SPIFFEID(service)
	u, err := url.Parse(id)
	if err != nil {
		return Identity{}, fmt.Errorf("SPIFFE ID %s: %w", id, err)
	}
	notAfter := now.Add(CertTTL)
	if notAfter.After(a.cert.NotAfter) { // a leaf must not outlive its root
		notAfter = a.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"kcna-lab mesh"}},
		URIs:         []*url.URL{u},
		NotBefore:    now.Add(-time.Minute), // tolerate a little clock skew
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Every sidecar is a TLS server on inbound and a TLS client on outbound.
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return Identity{}, fmt.Errorf("sign certificate for %s: %w", id, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Identity{}, fmt.Errorf("encode key for %s: %w", id, err)
	}
	return Identity{
		SPIFFEID: id,
		CertPEM:  pemString("CERTIFICATE", der),
		KeyPEM:   pemString("PRIVATE KEY", keyDER),
		RootPEM:  a.certPEM,
		NotAfter: notAfter,
	}, nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial number: %w", err)
	}
	return n, nil
}

func pemString(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// tlsIdentity is an Identity parsed for use: the sidecar's certificate, the
// root it trusts, and the inbound server configuration built from them once.
type tlsIdentity struct {
	id     string
	cert   tls.Certificate
	roots  *x509.CertPool
	server *tls.Config
}

func parseIdentity(in Identity) (*tlsIdentity, error) {
	cert, err := tls.X509KeyPair([]byte(in.CertPEM), []byte(in.KeyPEM))
	if err != nil {
		return nil, fmt.Errorf("certificate and key: %w", err)
	}
	if cert.Leaf == nil { // only with GODEBUG=x509keypairleaf=0
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
	}
	got, err := spiffeIDOf(cert.Leaf)
	if err != nil {
		return nil, err
	}
	if got != in.SPIFFEID {
		return nil, fmt.Errorf("certificate is for %s, not %s", got, in.SPIFFEID)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(in.RootPEM)) {
		return nil, errors.New("root certificate: no PEM certificate found")
	}
	t := &tlsIdentity{id: got, cert: cert, roots: roots}
	t.server = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		// Go checks the client's chain against the mesh root (and fills in
		// ConnectionState.VerifiedChains); VerifyConnection then insists on a
		// SPIFFE ID from this trust domain. Which services may call which is
		// authorisation, a separate rule this mesh leaves out.
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  roots,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := spiffeIDOf(cs.PeerCertificates[0])
			return err
		},
	}
	return t, nil
}

// clientConfig is the TLS configuration for calling service's sidecars.
func clientConfig(current func() *tlsIdentity, service string) *tls.Config {
	want := SPIFFEID(service)
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Go's own check would compare the address we dialled with the
		// certificate's DNS names and IPs, which a SPIFFE certificate does not
		// have. It is switched off and replaced, not dropped: VerifyConnection
		// below checks the chain against the mesh root and the SPIFFE ID
		// against the service this connection is meant to reach.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			id := current()
			if id == nil {
				return nil, errors.New("no certificate from the control plane yet")
			}
			return &id.cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id := current()
			if id == nil {
				return errors.New("no mesh root from the control plane yet")
			}
			got, err := verifyChain(cs.PeerCertificates, id.roots, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("peer is %s, want %s", got, want)
			}
			return nil
		},
	}
}

// verifyChain checks that certs chain to roots and returns the leaf's SPIFFE ID.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage) (string, error) {
	if len(certs) == 0 {
		return "", errors.New("peer sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}
	if _, err := certs[0].Verify(opts); err != nil {
		return "", fmt.Errorf("peer certificate: %w", err)
	}
	return spiffeIDOf(certs[0])
}

// spiffeIDOf returns the one SPIFFE ID of this trust domain that c carries.
func spiffeIDOf(c *x509.Certificate) (string, error) {
	if c == nil {
		return "", errors.New("no certificate")
	}
	if len(c.URIs) != 1 {
		return "", fmt.Errorf("certificate has %d URI SANs, want exactly one SPIFFE ID", len(c.URIs))
	}
	u := c.URIs[0]
	if u.Scheme != "spiffe" || u.Host != TrustDomain {
		return "", fmt.Errorf("certificate names %s, which is not in trust domain %s", u, TrustDomain)
	}
	return u.String(), nil
}

// clientCertHeader is the value of X-Forwarded-Client-Cert that an inbound
// sidecar hands its app, in Envoy's format, so the app can learn who called
// without doing TLS itself.
func clientCertHeader(self string, peer *x509.Certificate, peerID string) string {
	sum := sha256.Sum256(peer.Raw)
	return "By=" + self + ";Hash=" + hex.EncodeToString(sum[:]) + ";URI=" + peerID
}
