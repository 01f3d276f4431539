package main

import "strings"

// urlsFlag collects a repeated flag's URLs (create -w).
type urlsFlag []string

func (u *urlsFlag) String() string     { return strings.Join(*u, " ") }
func (u *urlsFlag) Set(s string) error { *u = append(*u, s); return nil }
