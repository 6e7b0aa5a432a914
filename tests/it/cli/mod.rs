//! The command line a user types: first commands, and text from outside kept off the terminal.

mod new_user_cli;
mod terminal_safety;
