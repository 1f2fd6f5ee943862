package spec

import "errors"

// ParsePort parses one short-form port mapping in any docker or compose
// form: "80", "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80",
// "[::1]:8080:80", "8000-8010:8000-8010", "6005-6015:80", "53/udp".
// The error says what is wrong and what would be valid; it carries no
// position (the loader adds it).
//
// SCAFFOLD: replaced by the real parser.
func ParsePort(s string) (Port, error) { return Port{}, errors.ErrUnsupported }

// ParseExpose parses an `expose` entry ("80", "8000-8010/udp") into a range and protocol.
//
// SCAFFOLD: replaced by the real parser.
func ParseExpose(s string) (PortRange, string, error) { return PortRange{}, "", errors.ErrUnsupported }
