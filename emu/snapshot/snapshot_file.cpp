#include "emu/snapshot/snapshot_file.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "emu/snapshot/codec.h"

namespace emu::snapshot {
namespace {

u32 Crc32(u32 crc, std::span<const u8> data) {
    // zlib takes a uInt length: feed large spans in pieces.
    constexpr u64 kChunk = u64{1} << 30;
    for (u64 done = 0; done < data.size(); done += kChunk) {
        const u64 n = std::min<u64>(kChunk, data.size() - done);
        crc = static_cast<u32>(crc32(crc, data.data() + done, static_cast<uInt>(n)));
    }
    return crc;
}

std::vector<u8> SectionHeader(const Section& section) {
    Encoder e;
    e.String(section.name);
    e.U64(section.data.size());
    return std::move(e.bytes());
}

}  // namespace

std::string_view Message(FileError error) {
    switch (error) {
    case FileError::Open: return "cannot be opened";
    case FileError::Read: return "cannot be read";
    case FileError::NotSnapshot: return "is not an emu64 snapshot (bad magic)";
    case FileError::Version: return "was written in another snapshot format version";
    case FileError::HeaderChecksum: return "is corrupt: the header checksum does not match";
    case FileError::Truncated: return "is truncated: shorter than its header says";
    case FileError::TrailingBytes: return "is corrupt: longer than its header says";
    case FileError::BodyChecksum: return "is corrupt: the checksum of its contents does not match";
    case FileError::Malformed: return "is corrupt: a section runs past the end of the file";
    }
    return "is unreadable";
}

Result<void, std::string> WriteSnapshotFile(const std::string& path, const std::vector<Section>& sections) {
    std::vector<std::vector<u8>> headers;
    u64 body = 0;
    u32 crc = Crc32(0, {});
    for (const Section& s : sections) {
        headers.push_back(SectionHeader(s));
        body += headers.back().size() + s.data.size();
        crc = Crc32(crc, headers.back());
        crc = Crc32(crc, s.data);
    }
    Encoder h;
    h.Bytes(std::span<const u8>(reinterpret_cast<const u8*>(kMagic), sizeof kMagic));
    h.U32(kFormatVersion);
    h.U32(static_cast<u32>(sections.size()));
    h.U64(body);
    h.U32(crc);
    h.U32(Crc32(Crc32(0, {}), h.bytes()));

    const std::string temp = path + ".part";
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return Err(std::string("cannot create ") + temp + ": " + std::strerror(errno));
    auto put = [&out](std::span<const u8> bytes) {
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    };
    put(h.bytes());
    for (size_t i = 0; i < sections.size(); ++i) {
        put(headers[i]);
        put(sections[i].data);
    }
    out.close();
    if (!out) {
        std::remove(temp.c_str());
        return Err(std::string("cannot write ") + temp + ": " + std::strerror(errno));
    }
    if (std::rename(temp.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(temp.c_str());
        return Err("cannot rename " + temp + " to " + path + ": " + reason);
    }
    return {};
}

const SnapshotImage::View* SnapshotImage::Find(std::string_view name) const {
    for (const View& v : sections) {
        if (v.name == name) return &v;
    }
    return nullptr;
}

Result<SnapshotImage, FileError> ReadSnapshotFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) return Err(FileError::Open);
    const std::streamoff size = in.tellg();
    if (size < 0) return Err(FileError::Read);
    SnapshotImage image;
    image.bytes.resize(static_cast<size_t>(size));
    in.seekg(0);
    if (!in.read(reinterpret_cast<char*>(image.bytes.data()), size)) return Err(FileError::Read);
    const std::span<const u8> all(image.bytes);
    if (all.size() < sizeof kMagic || std::memcmp(all.data(), kMagic, sizeof kMagic) != 0) {
        return Err(FileError::NotSnapshot);
    }
    if (all.size() < kHeaderBytes) return Err(FileError::Truncated);
    Decoder header(all.subspan(sizeof kMagic, kHeaderBytes - sizeof kMagic));
    u32 version = 0, count = 0, body_crc = 0, header_crc = 0;
    u64 body = 0;
    header.U32(version);
    header.U32(count);
    header.U64(body);
    header.U32(body_crc);
    header.U32(header_crc);
    if (Crc32(Crc32(0, {}), all.first(kHeaderBytes - 4)) != header_crc) return Err(FileError::HeaderChecksum);
    if (version != kFormatVersion) return Err(FileError::Version);
    const u64 have = all.size() - kHeaderBytes;
    if (have < body) return Err(FileError::Truncated);
    if (have > body) return Err(FileError::TrailingBytes);
    const std::span<const u8> contents = all.subspan(kHeaderBytes);
    if (Crc32(Crc32(0, {}), contents) != body_crc) return Err(FileError::BodyChecksum);
    Decoder d(contents);
    for (u32 i = 0; i < count; ++i) {
        SnapshotImage::View view;
        u64 size = 0;
        if (!d.String(view.name) || !d.U64(size) || !d.Bytes(size, view.data)) return Err(FileError::Malformed);
        image.sections.push_back(std::move(view));
    }
    if (!d.AtEnd()) return Err(FileError::Malformed);
    return image;
}

}  // namespace emu::snapshot
