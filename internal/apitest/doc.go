// Package apitest holds the test that keeps v6kit an SDK: no exported identifier of a
// public package takes, returns, embeds or aliases a type from an internal/ package,
// so a third party's module can name everything the API hands it.
package apitest
