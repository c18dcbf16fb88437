#!/bin/sh
# Answers every event with a line that is not JSON.
while read -r line; do
  echo "this is not JSON"
done
