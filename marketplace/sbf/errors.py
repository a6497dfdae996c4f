"""Errors of the program build.

    SbfBuildError
    ├── IdlLayoutError      the IDL describes a layout the C program cannot read in place
    ├── CompilerError       clang-19 is missing or rejected the sources
    └── LinkError           the object holds something SBPF v0 cannot run
        ├── WritableDataError
        ├── UnsupportedRelocationError
        ├── UnsupportedOpcodeError
        ├── UnknownSyscallError
        └── MissingEntrypointError
"""


class SbfBuildError(Exception):
    """Base of every error raised while building the on-chain program."""


class IdlLayoutError(SbfBuildError):
    """The IDL has a field whose Borsh offset is not its C offset."""


class CompilerError(SbfBuildError):
    """clang-19 could not be run or failed; its output is in the message."""


class LinkError(SbfBuildError):
    """The relocatable object cannot become an SBPF v0 program."""


class WritableDataError(LinkError):
    """The program image is read-only: globals must be `static const`."""


class UnsupportedRelocationError(LinkError):
    """A relocation type the linker does not know how to resolve."""


class UnsupportedOpcodeError(LinkError):
    """An instruction that SBPF v0 lacks (jmp32, alu32 sign extension, atomics...)."""


class UnknownSyscallError(LinkError):
    """A call to an undefined symbol that is not a known Solana syscall."""


class MissingEntrypointError(LinkError):
    """The object has no global function named `entrypoint`."""
