// Package platform is the top floor of the stack: what runs on top of
// containers, built from the floors below it.
//
//	orchestrator  a desired-state controller and scheduler (lesson 9)
//	mesh          sidecars, a control plane and mutual TLS (lesson 12)
//
// The course (package lessons/demos) and the front ends (tui, workshop,
// cmd) sit above this floor and drive it.
package platform
