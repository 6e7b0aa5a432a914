//! Fixture: circles the tool must find.
mod a;
mod b;
mod p;
mod q;
