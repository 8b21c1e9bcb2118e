"""The Python side of the S3 grep measurement: list + get + search with boto3.

Usage: python s3_grep.py ENDPOINT BUCKET PREFIX PATTERN THREADS
Prints one JSON line: {"seconds": ..., "matches": ..., "objects": ...}.
THREADS=1 is the plain loop; more fetches with a thread pool, like the
Rust backend's 16 GETs in flight.
"""
import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3


def main():
    endpoint, bucket, prefix, pattern, threads = sys.argv[1:6]
    threads = int(threads)
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    regex = re.compile(pattern)
    started = time.perf_counter()
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))

    def search(key):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if b"\0" in body[:8192]:
            return []
        text = body.decode("utf-8", "replace")
        return [(key, n + 1, line) for n, line in enumerate(text.splitlines()) if regex.search(line)]

    matches = []
    if threads == 1:
        for key in keys:
            matches.extend(search(key))
    else:
        with ThreadPoolExecutor(threads) as pool:
            for found in pool.map(search, keys):
                matches.extend(found)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "matches": len(matches), "objects": len(keys)}))


if __name__ == "__main__":
    main()
