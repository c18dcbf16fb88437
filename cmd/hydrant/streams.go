package main

import "github.com/spf13/cobra"

func newStreamsCmd() *cobra.Command { return &cobra.Command{Use: "streams"} }
