# Writes a C++ source holding every input file as a (name, text) pair, sorted by name, returned
# by NAMESPACE::FUNCTION().
separate_arguments(INPUT_LIST UNIX_COMMAND "${INPUTS}")
list(SORT INPUT_LIST)
set(body "")
foreach(path IN LISTS INPUT_LIST)
  get_filename_component(name ${path} NAME)
  file(READ ${path} text)
  string(APPEND body "  {\"${name}\", R\"__embed__(${text})__embed__\"},\n")
endforeach()
file(WRITE ${OUT} "// Generated from the source tree; do not edit.\n#include <string_view>\n#include <utility>\n#include <vector>\nnamespace ${NAMESPACE} {\nconst std::vector<std::pair<std::string_view, std::string_view>>& ${FUNCTION}() {\n  static const std::vector<std::pair<std::string_view, std::string_view>> all = {\n${body}  };\n  return all;\n}\n}  // namespace ${NAMESPACE}\n")
