#!/usr/bin/perl
# Drops the UTF-8 checks that protoc writes into the serializers of proto3 string fields
# (WireFormatLite::VerifyUtf8String(..., SERIALIZE, ...)): they only log, never fail, and every
# string we serialize was checked when it was parsed or was written by our own code. They cost
# ~3.5 % of a forwarder's instructions per Request/Close (docs/PERFORMANCE.md). The parsers keep
# their checks (VerifyUTF8): invalid UTF-8 from a peer still fails the call, as in Go.
#
#   perl drop_serialize_utf8_checks.pl gen/connection.pb.cc ...   (edits the files in place)
use strict;
use warnings;

local $/;  # whole files
for my $file (@ARGV) {
  open(my $in, '<', $file) or die "$file: $!";
  my $code = <$in>;
  close($in);
  # One statement: the call, its four arguments (no ';' inside), and its line.
  my $n = ($code =~ s/[ \t]*::PROTOBUF_NAMESPACE_ID::internal::WireFormatLite::VerifyUtf8String\([^;]*?
                      ::PROTOBUF_NAMESPACE_ID::internal::WireFormatLite::SERIALIZE,[^;]*?\);\n//gx);
  die "$file: a serializer's UTF-8 check has a shape this script does not know\n"
    if $code =~ /WireFormatLite::SERIALIZE/;
  open(my $out, '>', $file) or die "$file: $!";
  print $out $code;
  close($out);
}
