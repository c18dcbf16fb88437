package partition_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hydrantio/hydrant/delivery/partition"
)

func Example() {
	// Once per stream, from the processors' parameters.
	q, err := partition.Compile(`{customer_id: .customer_id, device: .type.device}`)
	if err != nil {
		panic(err)
	}
	fmt.Println("keys:", q.Keys())

	// Per record: de-aggregate, then extract each sub-record's keys.
	record := []byte(`{"customer_id":"42","type":{"device":"mobile"}}
{"customer_id":"43","type":{"device":"tv"}}
{"customer_id":"44"}`)
	keys := make(map[string]string)
	err = partition.SplitJSON(record, func(sub []byte) error {
		err := q.Extract(context.Background(), sub, keys)
		if perr := (*partition.Error)(nil); errors.As(err, &perr) {
			// The sub-record goes to the error output.
			fmt.Printf("%s: %s\n", perr.Code, perr.Message)
			return nil
		} else if err != nil {
			return err // shutting down: retry later
		}
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			kv = append(kv, k+"="+keys[k])
		}
		fmt.Println(strings.Join(kv, " "))
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// keys: [customer_id device]
	// customer_id=42 device=mobile
	// customer_id=43 device=tv
	// DynamicPartitioning.MetadataExtractionFailed: partition key "device" is null (missing from the record?)
}
