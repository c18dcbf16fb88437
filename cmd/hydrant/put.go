package main

import "github.com/spf13/cobra"

func newPutCmd() *cobra.Command { return &cobra.Command{Use: "put"} }
