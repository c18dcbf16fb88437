package firehoseapi

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hydrantio/hydrant/delivery"
)

// The HTTP endpoint destination: Firehose's HttpEndpointDestinationConfiguration,
// HttpEndpointDestinationUpdate and HttpEndpointDestinationDescription,
// mapped onto delivery.Destination.HTTP (a delivery.HTTPConfig) and the
// destination members that say where failed records go:
//
//	EndpointConfiguration.Url              HTTP.URL: https://, or http:// to a loopback host (Hydrant's extension)
//	EndpointConfiguration.AccessKey        HTTP.AccessKey, a secret: never described, as Firehose never returns it
//	EndpointConfiguration.Name             checked, not kept: delivery.Destination has no place for it
//	RequestConfiguration.ContentEncoding   HTTP.ContentEncoding: NONE (the default) or GZIP
//	RequestConfiguration.CommonAttributes  HTTP.CommonAttributes; described sorted by name
//	BufferingHints                         Buffering: 1 to 64 MiB (the protocol's largest body), 0 to 900 s
//	RetryOptions.DurationInSeconds         HTTP.RetryDuration: 0 is no retry at all (delivery.HTTPNoRetries), as in
//	                                       Firehose; absent is the default, 300 s
//	S3BackupMode                           Backup.Mode: FailedDataOnly (the default) or AllData
//	S3Configuration, S3Update              the bucket of failed (or all) records; see destinations.go
//	ProcessingConfiguration                Processing, as for an S3 destination
//	RoleARN                                RoleARN, kept and described; S3Configuration's when absent
//	SecretsManagerConfiguration            refused when Enabled: give the key in EndpointConfiguration.AccessKey
//	CloudWatchLoggingOptions               accepted and ignored
//
// An update merges member by member: an EndpointConfiguration without
// AccessKey keeps the key (a client cannot send back what the description
// leaves out), AccessKey "" removes it; CommonAttributes, when given,
// replace the attributes, and [] removes them.

// Names of the members, as messages quote them.
const (
	paramHTTP       = "HttpEndpointDestinationConfiguration"
	paramHTTPUpdate = "HttpEndpointDestinationUpdate"
	memberS3Config  = "S3Configuration"
	memberS3Update  = "S3Update"
	memberURL       = "EndpointConfiguration.Url"
	memberAccessKey = "EndpointConfiguration.AccessKey"
	memberAttrs     = "RequestConfiguration.CommonAttributes"
	memberEncoding  = "RequestConfiguration.ContentEncoding"
	memberHTTPRetry = "RetryOptions.DurationInSeconds"
	memberSecrets   = "SecretsManagerConfiguration"
)

// Limits of the model's HTTP endpoint shapes.
const (
	maxHTTPBufferSizeMB = 64
	maxURLLen           = 1000
	maxEndpointNameLen  = 256
	maxHTTPRetrySec     = 7200
)

var (
	enumContentEncoding  = []string{delivery.HTTPEncodingNone, delivery.HTTPEncodingGzip}
	enumRecordBackupMode = []string{delivery.BackupFailedDataOnly, delivery.BackupAllData}
	// patEndpointURL quotes the model's pattern, https://.*, but lets
	// http:// through too: mergeHTTP accepts it for a loopback host.
	patEndpointURL = constraint{regexp.MustCompile(`^https?://.*$`), `https://.*`}
)

// httpEndpointDestination is HttpEndpointDestinationConfiguration and
// HttpEndpointDestinationUpdate: the same members, but S3Configuration on
// create and S3Update on update.
type httpEndpointDestination struct {
	EndpointConfiguration       *httpEndpointConfiguration
	RequestConfiguration        *httpEndpointRequestConfiguration
	BufferingHints              *bufferingHints
	RetryOptions                *retryOptions
	S3BackupMode                *string
	S3Configuration             *s3Destination
	S3Update                    *s3Destination
	ProcessingConfiguration     *processingConfiguration
	RoleARN                     *string
	SecretsManagerConfiguration *secretsManagerConfiguration
	CloudWatchLoggingOptions    json.RawMessage // accepted and ignored
}

type httpEndpointConfiguration struct {
	Url       *string
	Name      *string
	AccessKey *string
}

type httpEndpointRequestConfiguration struct {
	ContentEncoding  *string
	CommonAttributes []httpEndpointCommonAttribute
}

type httpEndpointCommonAttribute struct {
	AttributeName  *string
	AttributeValue *string
}

type secretsManagerConfiguration struct {
	Enabled   *bool
	SecretARN *string
	RoleARN   *string
}

// httpEndpointDestinationDescription is HttpEndpointDestinationDescription.
type httpEndpointDestinationDescription struct {
	EndpointConfiguration    httpEndpointDescription
	RequestConfiguration     httpEndpointRequestConfiguration
	BufferingHints           bufferingHintsOutput
	RetryOptions             retryOptions
	RoleARN                  string `json:",omitempty"`
	S3BackupMode             string
	S3DestinationDescription s3DestinationDescription
	ProcessingConfiguration  *processingConfiguration
	CloudWatchLoggingOptions cloudWatchLoggingOptions
}

// httpEndpointDescription is HttpEndpointDescription: no AccessKey. Name is
// not kept, and a Name must not be empty, so it is left out.
type httpEndpointDescription struct {
	Url string
}

// validateHTTP checks an HTTP endpoint destination against the model. On
// create, EndpointConfiguration and S3Configuration are required.
func validateHTTP(v *validator, path string, h *httpEndpointDestination, create bool) {
	if create {
		v.required(path+".endpointConfiguration", h.EndpointConfiguration != nil)
		v.required(path+".s3Configuration", h.S3Configuration != nil)
	}
	if e := h.EndpointConfiguration; e != nil {
		p := path + ".endpointConfiguration"
		// The model marks the URL and the key sensitive.
		v.required(p+".url", e.Url != nil)
		v.sensitive(p+".url", e.Url, 1, maxURLLen, &patEndpointURL)
		v.str(p+".name", e.Name, 1, maxEndpointNameLen, &patParameterValue)
		v.sensitive(p+".accessKey", e.AccessKey, 0, delivery.HTTPMaxAccessKeyLen, nil)
	}
	if r := h.RequestConfiguration; r != nil {
		p := path + ".requestConfiguration"
		v.enum(p+".contentEncoding", r.ContentEncoding, enumContentEncoding)
		v.list(p+".commonAttributes", len(r.CommonAttributes), 0, delivery.HTTPMaxCommonAttributes)
		for i, a := range r.CommonAttributes {
			np, vp := memberPath(p+".commonAttributes", i, "attributeName"), memberPath(p+".commonAttributes", i, "attributeValue")
			v.required(np, a.AttributeName != nil)
			v.str(np, a.AttributeName, 1, delivery.HTTPMaxAttributeNameLen, &patParameterValue)
			v.required(vp, a.AttributeValue != nil)
			v.str(vp, a.AttributeValue, 0, delivery.HTTPMaxAttributeValueLen, nil)
		}
	}
	if b := h.BufferingHints; b != nil {
		v.intRange(path+".bufferingHints.sizeInMBs", b.SizeInMBs, delivery.MinBufferSizeMB, maxHTTPBufferSizeMB)
		v.intRange(path+".bufferingHints.intervalInSeconds", b.IntervalInSeconds, delivery.MinBufferIntervalSec, delivery.MaxBufferIntervalSec)
	}
	if r := h.RetryOptions; r != nil {
		v.intRange(path+".retryOptions.durationInSeconds", r.DurationInSeconds, 0, maxHTTPRetrySec)
	}
	v.enum(path+".s3BackupMode", h.S3BackupMode, enumRecordBackupMode)
	v.str(path+".roleARN", h.RoleARN, 1, 512, &patRoleARN)
	if create && h.S3Configuration != nil {
		validateS3Part(v, path+".s3Configuration", h.S3Configuration, true, true)
	}
	if !create && h.S3Update != nil {
		validateS3Part(v, path+".s3Update", h.S3Update, false, true)
	}
	if pc := h.ProcessingConfiguration; pc != nil {
		validateProcessing(v, path+".processingConfiguration", pc)
	}
	if s := h.SecretsManagerConfiguration; s != nil {
		v.required(path+".secretsManagerConfiguration.enabled", s.Enabled != nil)
	}
}

// refuseHTTP refuses what Hydrant's HTTP endpoint destination does not
// have: AWS Secrets Manager. A SecretsManagerConfiguration that is not
// enabled asks for nothing, and is accepted.
func refuseHTTP(param string, h *httpEndpointDestination) error {
	if s := h.SecretsManagerConfiguration; s != nil && s.Enabled != nil && *s.Enabled {
		return invalidArgument(param + "." + memberSecrets + " is not supported by Hydrant, which reads no AWS secrets: " +
			"give the key in " + param + "." + memberAccessKey + ".")
	}
	return nil
}

// mergeHTTP sets the members h gives on dest.
func mergeHTTP(dest *delivery.Destination, param string, h *httpEndpointDestination, create bool) error {
	s3 := h.S3Update
	if create {
		s3 = h.S3Configuration
	}
	if s3 != nil {
		if err := mergeS3Part(dest, param+"."+s3Member(create), s3); err != nil {
			return err
		}
	}
	if h.RoleARN != nil {
		dest.RoleARN = *h.RoleARN
	}
	hc := &dest.HTTP
	if e := h.EndpointConfiguration; e != nil {
		if err := checkEndpointURL(param, *e.Url); err != nil {
			return err
		}
		hc.URL = *e.Url
		if e.AccessKey != nil {
			hc.AccessKey = *e.AccessKey
		}
	}
	if r := h.RequestConfiguration; r != nil {
		if r.ContentEncoding != nil {
			hc.ContentEncoding = *r.ContentEncoding
		}
		if r.CommonAttributes != nil {
			// A new map: dest shares the old one with the stream's info.
			attrs := make(map[string]string, len(r.CommonAttributes))
			for _, a := range r.CommonAttributes {
				if _, dup := attrs[*a.AttributeName]; dup {
					return invalidArgument(param + "." + memberAttrs + " names " + quote(*a.AttributeName) + " twice.")
				}
				attrs[*a.AttributeName] = *a.AttributeValue
			}
			if len(attrs) == 0 {
				attrs = nil
			}
			hc.CommonAttributes = attrs
		}
	}
	mergeBuffering(&dest.Buffering, h.BufferingHints)
	if r := h.RetryOptions; r != nil && r.DurationInSeconds != nil {
		hc.RetryDuration = time.Duration(*r.DurationInSeconds) * time.Second
		if *r.DurationInSeconds == 0 {
			hc.RetryDuration = delivery.HTTPNoRetries
		}
	}
	mergeRecordBackup(&dest.Backup, h.S3BackupMode)
	return mergeRecordProcessing(&dest.Processing, param, h.ProcessingConfiguration)
}

// checkEndpointURL refuses an http:// URL to a host that is not a loopback
// address. Firehose takes https:// only; Hydrant takes http:// to this
// machine too, for local endpoints and tests. The config file can allow
// http:// to other hosts; the API cannot. The sink checks the rest of the
// URL.
func checkEndpointURL(param, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || loopbackHost(u.Hostname()) {
		return nil
	}
	return invalidArgument(param + "." + memberURL + " must be https://: Hydrant takes http:// only to a loopback host " +
		"(localhost, 127.0.0.0/8, ::1), since the access key and every record would cross the network in the clear.")
}

// loopbackHost reports whether host names this machine only.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// describeHTTP is the HttpEndpointDestinationDescription of d.
func describeHTTP(d *delivery.Destination) *httpEndpointDestinationDescription {
	hc := &d.HTTP
	enc := hc.ContentEncoding
	if enc == "" {
		enc = delivery.HTTPEncodingNone
	}
	names := make([]string, 0, len(hc.CommonAttributes))
	for k := range hc.CommonAttributes {
		names = append(names, k)
	}
	sort.Strings(names) // a map keeps no order: give a stable one
	attrs := make([]httpEndpointCommonAttribute, len(names))
	for i, k := range names {
		attrs[i] = httpEndpointCommonAttribute{AttributeName: new(k), AttributeValue: new(hc.CommonAttributes[k])}
	}
	var retry int
	switch hc.RetryDuration {
	case 0:
		retry = int(delivery.HTTPDefaultRetryDuration / time.Second)
	case delivery.HTTPNoRetries:
	default:
		retry = int(hc.RetryDuration / time.Second)
	}
	return &httpEndpointDestinationDescription{
		EndpointConfiguration:    httpEndpointDescription{Url: hc.URL},
		RequestConfiguration:     httpEndpointRequestConfiguration{ContentEncoding: new(enc), CommonAttributes: attrs},
		BufferingHints:           bufferingHintsOutput{SizeInMBs: d.Buffering.SizeMB, IntervalInSeconds: d.Buffering.IntervalSeconds},
		RetryOptions:             retryOptions{DurationInSeconds: new(retry)},
		RoleARN:                  d.RoleARN,
		S3BackupMode:             describeRecordBackupMode(d.Backup),
		S3DestinationDescription: describeS3(d),
		ProcessingConfiguration:  describeProcessing(d.Processing),
		CloudWatchLoggingOptions: cloudWatchLoggingOptions{Enabled: false},
	}
}
