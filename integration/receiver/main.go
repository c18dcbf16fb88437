// Command receiver is an HTTP endpoint of Amazon Data Firehose's HTTP
// endpoint delivery protocol, for Hydrant's webhook tests: a real process
// that a test starts, sends to, and asks what it received.
//
// It checks every request strictly (method, each X-Amz-Firehose-* header,
// Content-Type, Content-Encoding, Content-Length, and a body of exactly
// requestId, timestamp and records of base64 data) and answers a request
// that breaks the protocol with a 400 naming what is wrong. It answers as
// the protocol says, deduplicates by X-Amz-Firehose-Request-Id (the
// records of an id already taken are not taken again, and a redelivery
// whose records differ is counted as a digest mismatch), and appends each
// record it takes to the output file, one per line, before it answers. On
// demand it misbehaves: a fraction of requests get a 500, a 413, a garbage
// 200, a 200 with another requestId, no answer until past the client's
// timeout, or a connection dropped mid-response; the fault of each request
// comes from a generator seeded by -seed. GET /stats shows the counts.
//
// It prints "listening on <URL>" on stdout once it accepts connections,
// and stops on SIGINT or SIGTERM after flushing the output file.
//
//	receiver -listen 127.0.0.1:0 -tls -ca-out ca.pem -access-key k \
//	  -common-attributes '{"env":"test"}' -out records.txt \
//	  -fault-500 0.1 -fault-drop 0.05 -seed 7
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		listen    = flag.String("listen", "127.0.0.1:0", "address to listen on (port 0: any free port)")
		useTLS    = flag.Bool("tls", false, "serve https with a self-signed certificate for localhost, 127.0.0.1 and ::1")
		caOut     = flag.String("ca-out", "", "with -tls, write the certificate (PEM) here, for the sender's CA file")
		http2     = flag.Bool("http2", false, "with -tls, offer HTTP/2 (a dropped connection is then a reset stream)")
		accessKey = flag.String("access-key", "", "expected X-Amz-Firehose-Access-Key; empty expects none")
		attrs     = flag.String("common-attributes", "{}", "expected common attributes, a JSON object of strings")
		sourceARN = flag.String("source-arn", "", "expected X-Amz-Firehose-Source-Arn; empty expects none")
		encoding  = flag.String("content-encoding", "NONE", "expected body encoding: NONE, GZIP or ANY")
		maxBody   = flag.Int64("max-body-bytes", 64<<20, "largest body taken, decompressed; larger ones get a 413")
		out       = flag.String("out", "", "append each record taken to this file, one per line")
		outB64    = flag.Bool("out-base64", false, "write records to -out in base64, for data that holds newlines")
		stallFor  = flag.Duration("stall", 5*time.Second, "how long a stalled request goes unanswered")
		seed      = flag.Uint64("seed", 1, "seed of the fault generator")
		f500      = flag.Float64("fault-500", 0, "fraction of requests answered 500")
		f413      = flag.Float64("fault-413", 0, "fraction of requests answered 413 (permanent for the sender)")
		fGarbage  = flag.Float64("fault-garbage", 0, "fraction of requests taken, then answered with a garbage 200")
		fWrongID  = flag.Float64("fault-wrong-id", 0, "fraction of requests taken, then answered with another requestId")
		fStall    = flag.Float64("fault-stall", 0, "fraction of requests taken, then left unanswered for -stall")
		fDrop     = flag.Float64("fault-drop", 0, "fraction of requests taken, then dropped mid-response")
	)
	flag.Parse()
	cfg := Config{
		AccessKey:       *accessKey,
		SourceARN:       *sourceARN,
		ContentEncoding: *encoding,
		MaxBodyBytes:    *maxBody,
		StallFor:        *stallFor,
		Faults: Faults{Status500: *f500, Status413: *f413, Garbage: *fGarbage, WrongID: *fWrongID,
			Stall: *fStall, Drop: *fDrop, Seed: *seed},
	}
	if err := json.Unmarshal([]byte(*attrs), &cfg.CommonAttributes); err != nil || cfg.CommonAttributes == nil {
		return fmt.Errorf("-common-attributes %q is not a JSON object of strings", *attrs)
	}
	switch cfg.ContentEncoding {
	case "NONE", "GZIP", "ANY":
	default:
		return fmt.Errorf("-content-encoding %q: want NONE, GZIP or ANY", cfg.ContentEncoding)
	}
	total := 0.0
	for _, p := range []float64{*f500, *f413, *fGarbage, *fWrongID, *fStall, *fDrop} {
		if p < 0 || p > 1 {
			return fmt.Errorf("fault fraction %v is out of range: want 0 to 1", p)
		}
		total += p
	}
	if total > 1 {
		return fmt.Errorf("fault fractions add up to %v: at most 1", total)
	}
	if *caOut != "" && !*useTLS {
		return errors.New("-ca-out needs -tls")
	}

	var outFile *os.File
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		outFile = f
	}
	var rc *receiver
	if outFile != nil {
		rc = newReceiver(cfg, outFile, *outB64)
	} else {
		rc = newReceiver(cfg, nil, false)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if *useTLS {
		cert, certPEM, err := selfSigned()
		if err != nil {
			return err
		}
		if *caOut != "" {
			if err := os.WriteFile(*caOut, certPEM, 0o644); err != nil {
				return err
			}
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if !*http2 {
			srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		}
		scheme = "https"
	}
	// Before saying it listens: a SIGTERM right after must stop it
	// cleanly, not kill it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("listening on %s://%s\n", scheme, ln.Addr())
	errc := make(chan error, 1)
	go func() {
		if *useTLS {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx) // stalled requests may outlast it; their records are already written
	return rc.flush()
}

// selfSigned returns a certificate for localhost, 127.0.0.1 and ::1,
// valid for a day, and its PEM.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "hydrant test receiver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return cert, certPEM, err
}
